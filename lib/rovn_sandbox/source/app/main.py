"""rovn-passport-api (sandbox sample): the /health route the deploy verifies."""
import os

from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "version": os.environ.get("IMAGE_TAG", "unknown")}
