"""Ray Serve RAG application: ``POST /v1/posts`` writes a LinkedIn post in a user's voice.

``serving.pipeline`` holds the request-handling logic as plain functions (testable and callable
in-process); ``serving.app`` wraps them in Serve deployments; ``serving/config.yaml`` describes
the application the way ``serve build`` does.
"""
