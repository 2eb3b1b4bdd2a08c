"""Request and response schemas: <Entity>Create, <Entity>Update, <Entity>Read."""
