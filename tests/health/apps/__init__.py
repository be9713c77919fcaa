"""Apps served by real servers in tests/health: readiness follows a flag file.

``HEALTH_FLAG_FILE`` names a file; the app's critical check passes while it exists (and returns
``False`` once it is removed), so a test decides readiness from outside the server process.
"""
