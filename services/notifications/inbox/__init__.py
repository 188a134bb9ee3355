"""The in-app inbox: notifications the web UI shows, with read marks."""
