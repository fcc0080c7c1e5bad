"""Readiness (/readyz), apart from liveness (/healthz): the state of every tier.

A remote tier (an OpenAI-compatible LLM server) is probed with `GET {base_url}/models`; when
it does not answer, the tier is "unreachable" and the service is "degraded": it still
answers (the in-process tier before it answers for it), so readiness stays 200 and only says
so. An encoder tier whose model could not be loaded is "missing" (the n-gram model answers
for it), also degraded. 503 only before the models are loaded or after shutdown began.
"""

from __future__ import annotations

import asyncio

import httpx

from mood_tagger.backends import Backend

PROBE_TIMEOUT_S = 0.5


def tiers_of(backend: Backend) -> list[Backend]:
    """A cascade's tiers, an encoder with its n-gram fallback, or the backend alone."""
    tiers = getattr(backend, "tiers", None)
    if tiers:
        return [t for tier in tiers for t in tiers_of(tier)]
    fallback = getattr(backend, "fallback", None)
    return [backend, *tiers_of(fallback)] if isinstance(fallback, Backend) else [backend]


async def _probe(tier: Backend, client: httpx.AsyncClient) -> dict:
    entry = {"backend": tier.name, "model": tier.model_name, "status": "ok"}
    unavailable = getattr(tier, "unavailable", None)
    if unavailable:                                   # an encoder whose model did not load
        return {**entry, "status": "missing", "detail": unavailable}
    url = getattr(tier, "url", None)
    if "remote" not in tier.capabilities or not isinstance(url, str):
        return entry
    models_url = url.rsplit("/chat/completions", 1)[0] + "/models"
    headers = {k: v for k, v in getattr(tier, "headers", {}).items() if k.lower() == "authorization"}
    try:
        r = await client.get(models_url, headers=headers)
        if r.status_code >= 400:
            return {**entry, "status": "unreachable", "detail": f"{models_url}: HTTP {r.status_code}"}
    except httpx.HTTPError as exc:
        return {**entry, "status": "unreachable",
                "detail": f"{models_url}: {type(exc).__name__} {exc}".strip()}
    return entry


async def readiness(backend: Backend) -> dict:
    """{"status": "ready"|"degraded", "tiers": [{backend, model, status, detail?}, ...]}"""
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
        tiers = await asyncio.gather(*(_probe(t, client) for t in tiers_of(backend)))
    status = "ready" if all(t["status"] == "ok" for t in tiers) else "degraded"
    return {"status": status, "tiers": list(tiers)}
