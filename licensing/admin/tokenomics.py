"""Admins of what a model is sold with: currencies, offers, payees, contributors, cap tables."""
