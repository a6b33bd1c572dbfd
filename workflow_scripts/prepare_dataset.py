"""Rule prepare_dataset: generate the embedded dataset or index an ImageFolder tree."""

from pathlib import Path

from blurscope import runlog
from blurscope.data.embedded import CLASS_NAMES, EmbeddedSpec, generate_embedded
from blurscope.data.files import scan_imagefolder, verify_images
from blurscope.io import write_json, write_tsv

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
ds = smk.params.dataset

if ds["kind"] == "embedded":
    emb = ds["embedded"]
    spec = EmbeddedSpec(
        image_size=ds["image_size"],
        n_classes=emb["n_classes"],
        n_train=emb["n_train"],
        n_val=emb["n_val"],
        n_test=emb["n_test"],
        n_cue_conflict=emb["n_cue_conflict"],
        seed=emb["seed"],
        texture_coverage=emb["texture_coverage"],
    )
    root = Path(smk.params.images_dir)
    log.info("generating the embedded dataset into %s: %s", root, spec)
    manifest = generate_embedded(root, spec, workers=smk.threads)  # splits in parallel, same bytes
    class_names = list(CLASS_NAMES[: spec.n_classes])
else:
    root = Path(ds["root"])
    log.info("indexing ImageFolder tree %s (splits %s)", root, ds["splits"])
    manifest = scan_imagefolder(root, ds["splits"])
    class_names = sorted(
        manifest["class_name"].unique(), key=lambda c: manifest.loc[manifest.class_name == c, "label"].iloc[0]
    )
    if ds.get("cue_conflict_root"):
        import pandas as pd

        from blurscope.data.files import scan_cue_conflict

        cc = scan_cue_conflict(ds["cue_conflict_root"], class_names)
        manifest = pd.concat([manifest.assign(shape_label=-1, texture_label=-1), cc], ignore_index=True)
    log.info("verifying that %d images decode", len(manifest))
    ok = verify_images(root, manifest["path"].tolist(), ds["skip_corrupt"])
    manifest = manifest.iloc[ok].reset_index(drop=True)

counts = manifest.groupby("split").size().to_dict()
log.info("manifest: %d images, %d classes, per split %s", len(manifest), len(class_names), counts)
write_tsv(manifest, smk.output.manifest)
write_json({"class_names": class_names, "root": str(root), "kind": ds["kind"], "counts": counts}, smk.output.classes)
