"""Test support shared by every app's tests: factories, a small organisation, an API client."""
