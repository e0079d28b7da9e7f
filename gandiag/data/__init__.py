"""Target distributions: 2D mixtures with known modes (toy.py); image data sets live beside it."""
from .toy import Mixture, mixture_from_config

__all__ = ["Mixture", "mixture_from_config"]
