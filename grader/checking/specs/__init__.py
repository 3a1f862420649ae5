"""Visible checks, one module per lab (``lab1`` ... ``lab5``)."""
