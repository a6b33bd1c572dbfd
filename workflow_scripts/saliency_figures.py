"""Rule saliency_figures: saliency overlays, activation maps and the distance plot (Sun, Chen & Hu)."""

import numpy as np

from blurscope import io, plot_common, runlog
from blurscope.plot_common import save_figure as save
from blurscope.saliency import plot as P


def main(smk) -> None:  # noqa: ANN001 - the snakemake object
    log = runlog.start(smk.log[0], smk.threads)
    plot_common.configure(smk.params.plots)
    dpi = int(smk.params.plots.get("dpi", 120))
    with np.load(smk.input.maps) as z:
        d = {k: z[k] for k in z.files}
    model_ids = dict(zip(["naive", "expert"], [str(m) for m in d["model_ids"]]))
    f = d["figure_clear"].shape[0]
    titles = [f"img {i} (label {int(d['labels'][i])})" for i in range(f)]
    # seed slot 0 of each (role, condition) for the overlays
    fig = P.saliency_overlays(d["figure_clear"], d["figure_blurred"], d["maps"][:, :, 0, :f], d["focus"][:, :, 0, :f],
                              titles, model_ids, dpi=dpi)
    save(fig, smk.output.overlays, dpi)

    with np.load(smk.input.activations) as z:
        a = {k: z[k] for k in z.files}
    layers = [str(x) for x in a["layers"]]
    fig = P.activation_figure(a["clear"], a["blurred"], layers, [a[f"mean_{i}"] for i in range(len(layers))],
                              [a[f"channels_{i}"] for i in range(len(layers))],
                              [a[f"channel_index_{i}"] for i in range(len(layers))], model_ids, dpi=dpi)
    save(fig, smk.output.activations, dpi)

    fig = P.distance_figure(io.read_tsv(smk.input.per_image), io.read_tsv(smk.input.stats), dpi=dpi)
    save(fig, smk.output.distances, dpi)
    log.info("wrote %s", ", ".join(str(p) for p in smk.output))


if __name__ == "__main__":
    smk = snakemake  # noqa: F821
    main(smk)
