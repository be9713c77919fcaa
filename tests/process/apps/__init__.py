"""Small applications the process-model tests start as real servers (copied to a temp dir)."""
