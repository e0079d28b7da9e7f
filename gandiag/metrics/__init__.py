"""Pure metric functions: samples -> statistics -> scores. No training code is imported here."""
