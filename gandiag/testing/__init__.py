"""The property kit: hypothesis strategies and named properties for GAN losses and stabilizers.

    from gandiag.testing import check_loss
    print(check_loss(my_g_loss, "generator").table())

Properties live in `properties` (losses) and `stabilizer_properties`; strategies in `strategies`.
"""
from .kit import (OPTIMUM_CHOICES, KitError, Report, check_loss, check_loss_apart, load_loss, loss_properties,
                  parametrize_properties)
from .properties import DISCRIMINATOR, GENERATOR, saturation_profile
from .search import Result, register_profiles

__all__ = ["check_loss", "check_loss_apart", "load_loss", "loss_properties", "parametrize_properties",
           "register_profiles", "saturation_profile", "KitError", "Report", "Result", "OPTIMUM_CHOICES", "GENERATOR",
           "DISCRIMINATOR"]
