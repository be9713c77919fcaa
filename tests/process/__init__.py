"""Process models: development servers, reloaders, workers and scripts side by side."""
