"""Settings and database wiring of the application."""
