"""Views: one matplotlib panel each, built from a Run."""
