"""Portal test settings: a fast password hasher for the cast's many accounts."""
