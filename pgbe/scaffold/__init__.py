"""Code generators: projects and resources written from templates."""
