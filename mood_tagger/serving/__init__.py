"""The HTTP service: FastAPI app, OpenAI-compatible route, metrics, auth."""
