#!/usr/bin/env python3
"""Generates crates/shoal-model/data/instance_types.tsv (read by ec2/instance_type_catalog.rs): every instance type in
botocore's EC2 model (the `InstanceType` enum) with its vCPUs, memory, network performance,
architectures, generation and flags.

Run from the repository root with the project's venv (it reads botocore's model):
    .venv/bin/python scripts/gen_instance_types.py

Sources. The names come from botocore's EC2 service model. The figures are AWS's published
specifications (the EC2 User Guide's instance-type specification tables and the
previous-generation page), transcribed into the rules and tables below. The
previous-generation figures (t1, m1, m2, m3, c1, c3, c4, r3, i2, cc2, cr1, hi1, hs1, g2)
were checked against copies of AWS's tables; the others were written from AWS's
specification pages without a line-by-line check against a live DescribeInstanceTypes.
Where AWS answers differently, AWS is right: fix the table here and run the script again.

- Most families follow the size ladder (medium = 1 vCPU, large = 2, xlarge = 4,
  Nxlarge = 4N, metal-Nxl = 4N) with a fixed GiB per vCPU for the family (FAMILIES).
  A plain `metal` size has the vCPUs of the family's largest size unless listed in
  EXPLICIT.
- Irregular types (burstables, previous generation, GPU/accelerated, the high-memory
  u-* family, Macs, HPC) are listed one by one in EXPLICIT.
- Network performance: previous-generation and irregular types carry their published
  label (EXPLICIT). For ladder families it is derived from the family's published
  burst figure ("Up to N Gigabit" for sizes up to 16 vCPUs) and the bandwidth of its
  largest size, scaled by vCPUs and rounded to a published step. The figures of
  individual mid sizes are therefore approximate; the small sizes and the largest size
  are as published; NETWORK_BY_SIZE lists published labels where the rule is off.
- Figures NOT sourced (families newer than the specification tables available when
  this was written; they follow the rule of their class and are marked UNVERIFIED
  below): m8azn, x8aedz, x8i, g7e, hpc8a, p6-b300, mac-m4, mac-m4pro, mac-m4max,
  c8gb, m8gb, m8gn, r8gb, r8gn, c8id, m8id, r8id.
"""
import gzip
import json
import math
import pathlib
import re
import sys

import botocore

MODEL = pathlib.Path(botocore.__file__).parent / "data/ec2/2016-11-15/service-2.json.gz"
OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/shoal-model/data/instance_types.tsv"

# Families AWS lists as previous generation (DescribeInstanceTypes currentGeneration=false).
PREVIOUS = {"t1", "m1", "m2", "m3", "c1", "c3", "cc1", "cc2", "cg1", "cr1", "g2", "hi1", "hs1", "i2", "r3"}
# Types that also run 32-bit (i386) AMIs.
I386 = {"t1.micro", "t2.nano", "t2.micro", "t2.small", "t2.medium", "m1.small", "m1.medium", "c1.medium"}
# Xen-based families (hypervisor "xen"); every other virtualized type is "nitro".
XEN = {"t1", "t2", "m1", "m2", "m3", "m4", "c1", "c3", "c4", "cc1", "cc2", "cg1", "cr1", "g2", "g3", "g3s",
       "hi1", "hs1", "i2", "i3", "r3", "r4", "d2", "p2", "p3", "x1", "x1e", "h1", "f1"}
# Families that also support paravirtual AMIs.
PARAVIRTUAL = {"t1", "m1", "m2", "m3", "c1", "c3", "hi1", "hs1"}
FREE_TIER = {"t2.micro", "t3.micro"}

# family: (GiB per vCPU, burst Gbps for sizes up to 16 vCPUs or None, Gbps of the largest size)
FAMILIES = {
    # General purpose
    "m5": (4, 10, 25), "m5a": (4, 10, 20), "m5ad": (4, 10, 20), "m5d": (4, 10, 25),
    "m5dn": (4, 25, 100), "m5n": (4, 25, 100), "m5zn": (4, 25, 100),
    "m6a": (4, 12.5, 50), "m6i": (4, 12.5, 50), "m6id": (4, 12.5, 50), "m6in": (4, 30, 200), "m6idn": (4, 30, 200),
    "m6g": (4, 10, 25), "m6gd": (4, 10, 25),
    "m7a": (4, 12.5, 50), "m7i": (4, 12.5, 50), "m7i-flex": (4, 12.5, 12.5), "m7g": (4, 12.5, 30), "m7gd": (4, 12.5, 30),
    "m8g": (4, 15, 50), "m8gd": (4, 15, 50), "m8i": (4, 12.5, 100), "m8i-flex": (4, 12.5, 15), "m8a": (4, 12.5, 75),
    "m8gb": (4, 15, 200), "m8gn": (4, 50, 600), "m8id": (4, 12.5, 100), "m8azn": (4, 25, 200),  # UNVERIFIED: m8gb, m8gn, m8id, m8azn
    "a1": (2, 10, 10),
    # Compute optimized
    "c5": (2, 10, 25), "c5a": (2, 10, 20), "c5ad": (2, 10, 20), "c5d": (2, 10, 25),
    "c6a": (2, 12.5, 50), "c6i": (2, 12.5, 50), "c6id": (2, 12.5, 50), "c6in": (2, 30, 200),
    "c6g": (2, 10, 25), "c6gd": (2, 10, 25), "c6gn": (2, 25, 100),
    "c7a": (2, 12.5, 50), "c7i": (2, 12.5, 50), "c7i-flex": (2, 12.5, 12.5), "c7g": (2, 12.5, 30), "c7gd": (2, 12.5, 30),
    "c7gn": (2, 25, 200),
    "c8g": (2, 15, 50), "c8gd": (2, 15, 50), "c8gn": (2, 50, 600), "c8i": (2, 12.5, 100), "c8i-flex": (2, 12.5, 15),
    "c8a": (2, 12.5, 75), "c8gb": (2, 15, 200), "c8id": (2, 12.5, 100),  # UNVERIFIED: c8gb, c8id
    # Memory optimized
    "r4": (7.625, 10, 25), "r5": (8, 10, 25), "r5a": (8, 10, 20), "r5ad": (8, 10, 20), "r5b": (8, 10, 25),
    "r5d": (8, 10, 25), "r5dn": (8, 25, 100), "r5n": (8, 25, 100),
    "r6a": (8, 12.5, 50), "r6i": (8, 12.5, 50), "r6id": (8, 12.5, 50), "r6in": (8, 30, 200), "r6idn": (8, 30, 200),
    "r6g": (8, 10, 25), "r6gd": (8, 10, 25),
    "r7a": (8, 12.5, 50), "r7i": (8, 12.5, 50), "r7iz": (8, 12.5, 50), "r7g": (8, 12.5, 30), "r7gd": (8, 12.5, 30),
    "r8g": (8, 15, 50), "r8gd": (8, 15, 50), "r8i": (8, 12.5, 100), "r8i-flex": (8, 12.5, 15), "r8a": (8, 12.5, 75),
    "r8gb": (8, 15, 200), "r8gn": (8, 50, 600), "r8id": (8, 12.5, 100),  # UNVERIFIED: r8gb, r8gn, r8id
    "x1e": (30.5, 10, 25), "x2gd": (16, 10, 25), "x2idn": (16, None, 100), "x2iedn": (32, 25, 100),
    "x2iezn": (32, 25, 100), "x8g": (16, 15, 50),
    "x8aedz": (32, 25, 150), "x8i": (16, 12.5, 100),  # UNVERIFIED: x8aedz, x8i
    "z1d": (8, 10, 25),
    # Storage optimized
    "d3": (8, 15, 25), "d3en": (4, 25, 75), "i3": (7.625, 10, 25), "i3en": (8, 25, 100),
    "i4i": (8, 10, 75), "i4g": (8, 25, 37.5), "im4gn": (4, 25, 100), "is4gen": (6, 25, 50),
    "i7i": (8, 12.5, 100), "i7ie": (8, 25, 100), "i8g": (8, 12.5, 100), "i8ge": (8, 25, 300),
    "h1": (4, 10, 25),
    # Accelerated computing with a regular ladder
    "g4dn": (4, 25, 50), "g4ad": (4, 10, 25), "g5": (4, 10, 100), "g5g": (2, 10, 25), "g6": (4, 10, 100),
    "g6e": (8, 20, 400), "g6f": (4, 10, 25), "inf2": (4, 15, 100), "vt1": (2, 25, 100),
    "g7e": (8, 25, 1600),  # UNVERIFIED
}

# name: (vCPUs, GiB, network performance); every type that does not follow the ladder.
EXPLICIT = {
    "t1.micro": (1, 0.613, "Very Low"),
    "t2.nano": (1, 0.5, "Low"), "t2.micro": (1, 1, "Low to Moderate"), "t2.small": (1, 2, "Low to Moderate"),
    "t2.medium": (2, 4, "Low to Moderate"), "t2.large": (2, 8, "Low to Moderate"), "t2.xlarge": (4, 16, "Moderate"),
    "t2.2xlarge": (8, 32, "Moderate"),
    **{f"{fam}.{size}": (v, g, "Up to 5 Gigabit") for fam in ("t3", "t3a", "t4g") for size, v, g in (
        ("nano", 2, 0.5), ("micro", 2, 1), ("small", 2, 2), ("medium", 2, 4), ("large", 2, 8), ("xlarge", 4, 16),
        ("2xlarge", 8, 32))},
    "m1.small": (1, 1.7, "Low"), "m1.medium": (1, 3.75, "Moderate"), "m1.large": (2, 7.5, "Moderate"),
    "m1.xlarge": (4, 15, "High"),
    "m2.xlarge": (2, 17.1, "Moderate"), "m2.2xlarge": (4, 34.2, "Moderate"), "m2.4xlarge": (8, 68.4, "High"),
    "m3.medium": (1, 3.75, "Moderate"), "m3.large": (2, 7.5, "Moderate"), "m3.xlarge": (4, 15, "High"),
    "m3.2xlarge": (8, 30, "High"),
    "m4.large": (2, 8, "Moderate"), "m4.xlarge": (4, 16, "High"), "m4.2xlarge": (8, 32, "High"),
    "m4.4xlarge": (16, 64, "High"), "m4.10xlarge": (40, 160, "10 Gigabit"), "m4.16xlarge": (64, 256, "25 Gigabit"),
    "c1.medium": (2, 1.7, "Moderate"), "c1.xlarge": (8, 7, "High"),
    "c3.large": (2, 3.75, "Moderate"), "c3.xlarge": (4, 7.5, "Moderate"), "c3.2xlarge": (8, 15, "High"),
    "c3.4xlarge": (16, 30, "High"), "c3.8xlarge": (32, 60, "10 Gigabit"),
    "c4.large": (2, 3.75, "Moderate"), "c4.xlarge": (4, 7.5, "High"), "c4.2xlarge": (8, 15, "High"),
    "c4.4xlarge": (16, 30, "High"), "c4.8xlarge": (36, 60, "10 Gigabit"),
    "cc1.4xlarge": (16, 23, "10 Gigabit"), "cc2.8xlarge": (32, 60.5, "10 Gigabit"),
    "cg1.4xlarge": (16, 22.5, "10 Gigabit"), "cr1.8xlarge": (32, 244, "10 Gigabit"),
    "hi1.4xlarge": (16, 60.5, "10 Gigabit"), "hs1.8xlarge": (16, 117, "10 Gigabit"),
    "g2.2xlarge": (8, 15, "High"), "g2.8xlarge": (32, 60, "10 Gigabit"),
    "r3.large": (2, 15.25, "Moderate"), "r3.xlarge": (4, 30.5, "Moderate"), "r3.2xlarge": (8, 61, "High"),
    "r3.4xlarge": (16, 122, "High"), "r3.8xlarge": (32, 244, "10 Gigabit"),
    "i2.xlarge": (4, 30.5, "Moderate"), "i2.2xlarge": (8, 61, "High"), "i2.4xlarge": (16, 122, "High"),
    "i2.8xlarge": (32, 244, "10 Gigabit"),
    "d2.xlarge": (4, 30.5, "Moderate"), "d2.2xlarge": (8, 61, "High"), "d2.4xlarge": (16, 122, "High"),
    "d2.8xlarge": (36, 244, "10 Gigabit"),
    "x1.16xlarge": (64, 976, "10 Gigabit"), "x1.32xlarge": (128, 1952, "25 Gigabit"),
    "i3.metal": (72, 512, "25 Gigabit"),
    "c5n.large": (2, 5.25, "Up to 25 Gigabit"), "c5n.xlarge": (4, 10.5, "Up to 25 Gigabit"),
    "c5n.2xlarge": (8, 21, "Up to 25 Gigabit"), "c5n.4xlarge": (16, 42, "Up to 25 Gigabit"),
    "c5n.9xlarge": (36, 96, "50 Gigabit"), "c5n.18xlarge": (72, 192, "100 Gigabit"),
    "c5n.metal": (72, 192, "100 Gigabit"),
    "g4dn.metal": (96, 384, "100 Gigabit"),
    "p2.xlarge": (4, 61, "High"), "p2.8xlarge": (32, 488, "10 Gigabit"), "p2.16xlarge": (64, 732, "25 Gigabit"),
    "p3.2xlarge": (8, 61, "Up to 10 Gigabit"), "p3.8xlarge": (32, 244, "10 Gigabit"),
    "p3.16xlarge": (64, 488, "25 Gigabit"), "p3dn.24xlarge": (96, 768, "100 Gigabit"),
    "p4d.24xlarge": (96, 1152, "4x 100 Gigabit"), "p4de.24xlarge": (96, 1152, "4x 100 Gigabit"),
    "p5.4xlarge": (16, 256, "100 Gigabit"), "p5.48xlarge": (192, 2048, "3200 Gigabit"),
    "p5e.48xlarge": (192, 2048, "3200 Gigabit"), "p5en.48xlarge": (192, 2048, "3200 Gigabit"),
    "p6-b200.48xlarge": (192, 2048, "3200 Gigabit"),
    "p6-b300.48xlarge": (192, 4096, "6400 Gigabit"),  # UNVERIFIED
    "p6e-gb200.36xlarge": (144, 960, "1600 Gigabit"),
    "g3.4xlarge": (16, 122, "Up to 10 Gigabit"), "g3.8xlarge": (32, 244, "10 Gigabit"),
    "g3.16xlarge": (64, 488, "25 Gigabit"), "g3s.xlarge": (4, 30.5, "Up to 10 Gigabit"),
    "gr6.4xlarge": (16, 128, "Up to 25 Gigabit"), "gr6.8xlarge": (32, 256, "25 Gigabit"),
    "gr6f.4xlarge": (16, 128, "Up to 25 Gigabit"),
    "f1.2xlarge": (8, 122, "Up to 10 Gigabit"), "f1.4xlarge": (16, 244, "Up to 10 Gigabit"),
    "f1.16xlarge": (64, 976, "25 Gigabit"),
    "f2.6xlarge": (24, 256, "12.5 Gigabit"), "f2.12xlarge": (48, 512, "25 Gigabit"),
    "f2.48xlarge": (192, 2048, "100 Gigabit"),
    "inf1.xlarge": (4, 8, "Up to 25 Gigabit"), "inf1.2xlarge": (8, 16, "Up to 25 Gigabit"),
    "inf1.6xlarge": (24, 48, "25 Gigabit"), "inf1.24xlarge": (96, 192, "100 Gigabit"),
    "trn1.2xlarge": (8, 32, "Up to 12.5 Gigabit"), "trn1.32xlarge": (128, 512, "800 Gigabit"),
    "trn1n.32xlarge": (128, 512, "1600 Gigabit"),
    "trn2.3xlarge": (12, 128, "200 Gigabit"), "trn2.48xlarge": (192, 2048, "3200 Gigabit"),
    "dl1.24xlarge": (96, 768, "4x 100 Gigabit"), "dl2q.24xlarge": (96, 768, "100 Gigabit"),
    "hpc6a.48xlarge": (96, 384, "100 Gigabit"), "hpc6id.32xlarge": (64, 1024, "200 Gigabit"),
    "hpc7g.4xlarge": (16, 128, "200 Gigabit"), "hpc7g.8xlarge": (32, 128, "200 Gigabit"),
    "hpc7g.16xlarge": (64, 128, "200 Gigabit"),
    "hpc7a.12xlarge": (24, 768, "300 Gigabit"), "hpc7a.24xlarge": (48, 768, "300 Gigabit"),
    "hpc7a.48xlarge": (96, 768, "300 Gigabit"), "hpc7a.96xlarge": (192, 768, "300 Gigabit"),
    "hpc8a.96xlarge": (192, 768, "300 Gigabit"),  # UNVERIFIED
    "mac1.metal": (12, 32, "25 Gigabit"), "mac2.metal": (8, 16, "10 Gigabit"),
    "mac2-m2.metal": (8, 24, "10 Gigabit"), "mac2-m2pro.metal": (12, 32, "10 Gigabit"),
    "mac2-m1ultra.metal": (20, 128, "10 Gigabit"),
    "mac-m4.metal": (10, 24, "10 Gigabit"), "mac-m4pro.metal": (14, 48, "10 Gigabit"),  # UNVERIFIED
    "mac-m4max.metal": (16, 128, "10 Gigabit"),  # UNVERIFIED
    "u-3tb1.56xlarge": (224, 3072, "50 Gigabit"),
    "u-6tb1.56xlarge": (224, 6144, "100 Gigabit"), "u-6tb1.112xlarge": (448, 6144, "100 Gigabit"),
    "u-6tb1.metal": (448, 6144, "100 Gigabit"),
    "u-9tb1.112xlarge": (448, 9216, "100 Gigabit"), "u-9tb1.metal": (448, 9216, "100 Gigabit"),
    "u-12tb1.112xlarge": (448, 12288, "100 Gigabit"), "u-12tb1.metal": (448, 12288, "100 Gigabit"),
    "u-18tb1.112xlarge": (448, 18432, "100 Gigabit"), "u-18tb1.metal": (448, 18432, "100 Gigabit"),
    "u-24tb1.112xlarge": (448, 24576, "100 Gigabit"), "u-24tb1.metal": (448, 24576, "100 Gigabit"),
    "u7i-6tb.112xlarge": (448, 6144, "100 Gigabit"), "u7i-8tb.112xlarge": (448, 8192, "100 Gigabit"),
    "u7i-12tb.224xlarge": (896, 12288, "100 Gigabit"), "u7ib-12tb.224xlarge": (896, 12288, "200 Gigabit"),
    "u7in-16tb.224xlarge": (896, 16384, "200 Gigabit"), "u7in-24tb.224xlarge": (896, 24576, "200 Gigabit"),
    "u7in-32tb.224xlarge": (896, 32768, "200 Gigabit"), "u7inh-32tb.480xlarge": (1920, 32768, "200 Gigabit"),
}

# Published per-size network labels of the larger sizes of some ladder families, where
# the proportional rule would be off.
GEN5_M = {"8xlarge": "10 Gigabit", "12xlarge": "10 Gigabit", "16xlarge": "20 Gigabit", "24xlarge": "25 Gigabit",
          "metal": "25 Gigabit"}
GEN5_C = {"9xlarge": "10 Gigabit", "12xlarge": "12 Gigabit", "18xlarge": "25 Gigabit", "24xlarge": "25 Gigabit",
          "metal": "25 Gigabit"}
GEN5_AMD_M = {"8xlarge": "Up to 10 Gigabit", "12xlarge": "10 Gigabit", "16xlarge": "12 Gigabit",
              "24xlarge": "20 Gigabit"}
GEN5_AMD_C = {"8xlarge": "10 Gigabit", "12xlarge": "12 Gigabit", "16xlarge": "20 Gigabit", "24xlarge": "20 Gigabit"}
GRAVITON2 = {"8xlarge": "12 Gigabit", "12xlarge": "20 Gigabit", "16xlarge": "25 Gigabit", "metal": "25 Gigabit"}
NETWORK_BY_SIZE = {
    **{f: GEN5_M for f in ("m5", "m5d", "r5", "r5d")},
    **{f: GEN5_C for f in ("c5", "c5d")},
    **{f: GEN5_AMD_M for f in ("m5a", "m5ad", "r5a", "r5ad")},
    **{f: GEN5_AMD_C for f in ("c5a", "c5ad")},
    **{f: GRAVITON2 for f in ("m6g", "m6gd", "c6g", "c6gd", "r6g", "r6gd", "x2gd")},
}
# Families whose bandwidth grows with vCPUs up to the top figure at 128 vCPUs and stays
# there for the larger sizes (AMD 6th/7th and Intel 7th generation: 48xlarge = 32xlarge).
FULL_AT_128 = {"m6a", "c6a", "r6a", "m7a", "c7a", "r7a", "m7i", "c7i", "r7i"}

# Families on AWS Graviton (or NVIDIA Grace) processors: arm64.
ARM = re.compile(r"^(a1|t4g|[a-z]+\d+g[a-z]*|x2gd|im4gn|is4gen|i4g|i8g|i8ge|g5g|hpc7g|p6e-gb200)$")

GBPS_STEPS = [10, 12, 12.5, 15, 18.75, 20, 22.5, 25, 30, 37.5, 40, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1600]


def size_vcpus(size):
    if size == "medium":
        return 1
    if size == "large":
        return 2
    m = re.fullmatch(r"(\d*)xlarge", size)
    if m:
        return 4 * int(m.group(1) or 1)
    m = re.fullmatch(r"metal-(\d+)xl", size)
    if m:
        return 4 * int(m.group(1))
    return None


def fmt_gbps(g):
    return f"{g:g} Gigabit"


def ladder_network(vcpus, full_at, burst, top):
    """The label of a size of `vcpus` in a family whose `full_at`-vCPU size has `top` Gbps."""
    if burst is not None and vcpus <= 16 and vcpus < full_at:
        return f"Up to {fmt_gbps(burst)}"
    if vcpus >= full_at:
        return fmt_gbps(top)
    share = top * vcpus / full_at
    step = min(GBPS_STEPS, key=lambda s: abs(s - share))
    return fmt_gbps(max(step, burst or 0))


def main():
    model = json.loads(gzip.open(MODEL).read())
    names = model["shapes"]["InstanceType"]["enum"]
    by_family = {}
    for n in names:
        fam, size = n.split(".", 1)
        by_family.setdefault(fam, []).append(size)
    rows = []
    missing = []
    for name in sorted(names):
        fam, size = name.split(".", 1)
        if name in EXPLICIT:
            vcpus, gib, net = EXPLICIT[name]
        elif fam in FAMILIES:
            per_vcpu, burst, top = FAMILIES[fam]
            ladder = [v for s in by_family[fam] if (v := size_vcpus(s)) and not s.startswith("metal")]
            largest = max(ladder)
            vcpus = size_vcpus(size) if size != "metal" else largest
            gib = vcpus * per_vcpu
            net = NETWORK_BY_SIZE.get(fam, {}).get(size) or ladder_network(
                vcpus, min(largest, 128) if fam in FULL_AT_128 else largest, burst, top)
        else:
            missing.append(name)
            continue
        arm = bool(ARM.match(fam))
        if fam.startswith("mac"):
            arch = "ArmMac" if fam != "mac1" else "X86Mac"
        elif arm:
            arch = "Arm64"
        elif name in I386:
            arch = "I386X86"
        else:
            arch = "X86"
        metal = size.startswith("metal")
        hypervisor = "None" if metal else ("Xen" if fam in XEN else "Nitro")
        flags = [fam not in PREVIOUS, fam in ("t1", "t2", "t3", "t3a", "t4g"), name in FREE_TIER]
        rows.append("\t".join(
            [name, str(vcpus), str(math.floor(gib * 1024)), net, arch]
            + [str(f).lower() for f in flags]
            + [hypervisor, str(fam in PARAVIRTUAL).lower()]
        ))
    if missing:
        sys.exit(f"no rule for: {' '.join(missing)}")
    OUT.write_text(
        "# @generated by scripts/gen_instance_types.py from botocore's EC2 model and AWS's published\n"
        "# specifications; do not edit by hand (edit the script's tables and run it again).\n"
        "# Every instance type in EC2's model, sorted by name. Tab-separated:\n"
        "# name\tvcpus\tmemory_mib\tnetwork_performance\tarch\tcurrent_generation\tburstable"
        "\tfree_tier_eligible\thypervisor\tparavirtual\n" + "\n".join(rows) + "\n"
    )
    print(f"{len(rows)} instance types -> {OUT}")


if __name__ == "__main__":
    main()
