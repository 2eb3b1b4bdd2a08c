"""Controllers: CRUD over each model, one singleton per model."""
