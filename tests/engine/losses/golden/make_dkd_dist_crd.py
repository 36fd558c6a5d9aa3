"""Write dkd.json, dist.json and crd.json from the authors' own loss code (run once, by hand).

Not part of the test run: it needs the original sources, which the project does not keep.
Put these three files in one folder REF (and replace `from ._base import Distiller` by
`Distiller = object` in the two mdistiller files), then, from the repository root:

    python tests/engine/losses/golden/make_dkd_dist_crd.py REF tests/engine/losses/golden

REF/md_DKD.py  megvii-research/mdistiller@a08d46f10d6102bd6e3f258ca5ac880b020ea259 mdistiller/distillers/DKD.py
REF/md_CRD.py  megvii-research/mdistiller@a08d46f10d6102bd6e3f258ca5ac880b020ea259 mdistiller/distillers/CRD.py
REF/ics_dist.py  hunto/image_classification_sota@6f7a70a1dd57fd88413d83909d3d53243068f701
               lib/models/losses/dist_kd.py (the classification code of hunto/DIST_KD)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from golden_inputs import crd_inputs, logits_case  # noqa: E402

MDISTILLER = "megvii-research/mdistiller@a08d46f10d6102bd6e3f258ca5ac880b020ea259"
DIST_REPO = "hunto/image_classification_sota@6f7a70a1dd57fd88413d83909d3d53243068f701"
DKD_CASES = [(0, 3.0, 4.0, 1.0, 8.0), (1, 6.0, 2.0, 0.5, 2.0)]  # seed, scale, T, alpha, beta
DIST_CASES = [(0, 3.0, 1.0, 1.0, 1.0), (1, 6.0, 2.0, 0.5, 4.0)]  # seed, scale, beta, gamma, tau


def flat(x: torch.Tensor) -> list[float]:
    return [float(f"{v:.9g}") for v in x.detach().reshape(-1).tolist()]


def dkd(md_dkd) -> list[dict]:
    cases = []
    for seed, scale, T, alpha, beta in DKD_CASES:
        s, t, y = logits_case(seed, scale=scale)
        s.requires_grad_(True)
        loss = md_dkd.dkd_loss(s, t, y, alpha, beta, T)
        (g,) = torch.autograd.grad(loss, s)
        cases.append({"seed": seed, "scale": scale, "T": T, "alpha": alpha, "beta": beta,
                      "loss": float(loss), "grad_student_logits": flat(g)})
    return cases


def dist(ics_dist) -> list[dict]:
    cases = []
    for seed, scale, beta, gamma, tau in DIST_CASES:
        s, t, _ = logits_case(seed, scale=scale)
        s.requires_grad_(True)
        loss = ics_dist.DIST(beta=beta, gamma=gamma, tau=tau)(s, t)
        (g,) = torch.autograd.grad(loss, s)
        cases.append({"seed": seed, "scale": scale, "beta": beta, "gamma": gamma, "tau": tau,
                      "loss": float(loss), "grad_student_logits": flat(g)})
    return cases


def crd(md_crd) -> dict:
    md_crd.AliasMethod.cuda = lambda self: None  # its sampler is moved to CUDA; the given negatives bypass it
    x = crd_inputs(0)
    n, d = x["memory_s"].shape
    nce_t, momentum = 0.07, 0.5
    embed_s, embed_t = md_crd.Embed(12, d), md_crd.Embed(16, d)
    with torch.no_grad():
        for embed, w, b in ((embed_s, x["w_s"], x["b_s"]), (embed_t, x["w_t"], x["b_t"])):
            embed.linear.weight.copy_(w)
            embed.linear.bias.copy_(b)
    contrast = md_crd.ContrastMemory(d, n, 10, nce_t, momentum)
    contrast.memory_v1.copy_(x["memory_s"])  # v1: the student's bank, v2: the teacher's
    contrast.memory_v2.copy_(x["memory_t"])
    crit_s, crit_t = md_crd.ContrastLoss(n), md_crd.ContrastLoss(n)
    steps = []
    for st in x["steps"]:
        f_s = st["f_s"].clone().requires_grad_(True)
        embed_s.zero_grad()
        embed_t.zero_grad()
        out_s, out_t = contrast(embed_s(f_s), embed_t(st["f_t"]), st["idx"], st["contrast"])
        loss = (crit_s(out_s) + crit_t(out_t)).reshape(())
        loss.backward()
        steps.append({"loss": float(loss), "grad_f_s": flat(f_s.grad),
                      "grad_w_s": flat(embed_s.linear.weight.grad), "grad_w_t": flat(embed_t.linear.weight.grad),
                      "memory_s_rows": flat(contrast.memory_v1[st["idx"]]),
                      "memory_t_rows": flat(contrast.memory_v2[st["idx"]]),
                      "z": [float(contrast.params[2]), float(contrast.params[3])]})
    return {"seed": 0, "nce_t": nce_t, "nce_momentum": momentum, "steps": steps}


def main(ref: str, out: str) -> None:
    sys.path.insert(0, ref)
    import ics_dist
    import md_CRD
    import md_DKD

    made = [("dkd", dkd(md_DKD), f"{MDISTILLER} mdistiller/distillers/DKD.py dkd_loss"),
            ("dist", dist(ics_dist), f"{DIST_REPO} lib/models/losses/dist_kd.py DIST"),
            ("crd", crd(md_CRD), f"{MDISTILLER} mdistiller/distillers/CRD.py Embed, ContrastMemory, ContrastLoss")]
    for name, cases, source in made:
        body = {"made_by": f"{source}; torch {torch.__version__}, float32, CPU", "cases": cases}
        Path(out, f"{name}.json").write_text(json.dumps(body, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
