"""The lecture's claims as experiments: each a function that trains what it needs, writes a table and plots into
a report folder and returns a Result; `toynn experiment NAME` runs one from the command line.

Modules: depth (ablation), pooling (pooling_vs_strided), saturate (saturation), surface (loss_surface),
convcost (separable), curvature (curvature); nets holds their networks and common what they share."""

from .common import Result
from .convcost import separable
from .curvature import curvature
from .depth import ablation
from .pooling import pooling_vs_strided
from .saturate import saturation
from .surface import loss_surface

EXPERIMENTS = {
    "ablation": ablation,
    "pooling-vs-strided": pooling_vs_strided,
    "saturation": saturation,
    "loss-surface": loss_surface,
    "separable": separable,
    "curvature": curvature,
}

__all__ = [
    "EXPERIMENTS",
    "Result",
    "ablation",
    "curvature",
    "loss_surface",
    "pooling_vs_strided",
    "saturation",
    "separable",
]
