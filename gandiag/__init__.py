"""gandiag: make GAN training failures visible and measurable."""
__version__ = "0.1.0"
