"""The directory ``otelkit run`` puts first on ``PYTHONPATH``: its ``sitecustomize`` starts otelkit.

Python imports ``sitecustomize`` at start-up in every process whose path holds this directory:
the command itself and the Python processes it starts (reloaded children, spawned workers).
"""
