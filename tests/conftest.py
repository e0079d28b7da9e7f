"""Hypothesis profiles for the whole suite: the thorough "ci" one when CI is set, else the fast "dev"."""
import os

from hypothesis import settings

from gandiag.testing import register_profiles

register_profiles()
settings.load_profile("ci" if os.environ.get("CI") else "dev")
