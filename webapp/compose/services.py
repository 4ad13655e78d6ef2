"""Writes for compose: prompts, generations (from the serving app), edits and ratings."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from webapp.compose.models import QUALITY_FAILED, Generation, Prompt
from webapp.compose.serving_client import ServingClient, StreamEvent
from webapp.sources.services import links_keep

# Within the serving app's default limits (serving/config.yaml: max_prompt_chars 2000 including the
# style line added below, max_links 5).
MAX_PROMPT_CHARS = 1800
MAX_LINKS = 5
LENGTHS = {"short": 160, "medium": 320, "long": 600}  # -> max_new_tokens
TONES = {
    "": "My usual voice",
    "professional": "Professional",
    "conversational": "Conversational",
    "enthusiastic": "Enthusiastic",
    "reflective": "Reflective",
    "bold": "Bold and opinionated",
}
DEFAULT_OPTIONS = {"length": "medium", "tone": "", "hashtags": True}


def parse_links(text: str) -> list[str]:
    """One http(s) link per line (blank lines ignored, duplicates dropped)."""
    links: list[str] = []
    for number, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = urlsplit(line)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(ch.isspace() for ch in line):
            raise ValidationError({"links": f"Line {number} is not an http(s) link: {line[:100]}"})
        if line not in links:
            links.append(line)
    if len(links) > MAX_LINKS:
        raise ValidationError({"links": f"At most {MAX_LINKS} links per prompt."})
    return links


def clean_options(options: dict | None) -> dict:
    options = {**DEFAULT_OPTIONS, **(options or {})}
    if options["length"] not in LENGTHS:
        raise ValidationError({"length": "Choose short, medium or long."})
    if options["tone"] not in TONES:
        raise ValidationError({"tone": "Unknown tone."})
    options["hashtags"] = bool(options["hashtags"])
    return {key: options[key] for key in DEFAULT_OPTIONS}


def prompt_create(*, user, text: str, links_text: str = "", options: dict | None = None) -> Prompt:
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Tell your twin what to write about."})
    if len(text) > MAX_PROMPT_CHARS:
        raise ValidationError({"text": f"Keep the prompt under {MAX_PROMPT_CHARS:,} characters."})
    links = parse_links(links_text)
    with transaction.atomic():
        prompt = Prompt.objects.create(user=user, text=text, links=links, options=clean_options(options))
        links_keep(user=user, urls=links)
    return prompt


def serving_payload(prompt: Prompt, *, k: int = 5, temperature: float = 0.7) -> dict:
    """The ``POST /v1/posts`` body for a prompt. Tone and hashtags travel as a short instruction
    after the prompt (the contract has no fields for them); length sets ``max_new_tokens``."""
    options = {**DEFAULT_OPTIONS, **(prompt.options or {})}
    style = []
    if options.get("tone"):
        style.append(f"Tone: {TONES.get(options['tone'], options['tone']).lower()}.")
    style.append("End with two or three relevant hashtags." if options.get("hashtags") else "Do not use hashtags.")
    return {
        "user": prompt.user_id,
        "prompt": f"{prompt.text}\n\n({' '.join(style)})",
        "links": list(prompt.links or []),
        "k": k,
        "max_new_tokens": LENGTHS.get(options.get("length"), LENGTHS["medium"]),
        "temperature": temperature,
    }


def quality_failure(quality: dict) -> str:
    """The reason stored with a failed attempt: the message and serving's problems."""
    problems = "; ".join(str(problem) for problem in quality.get("problems") or [])
    return f"{QUALITY_FAILED}: {problems}" if problems else f"{QUALITY_FAILED}."


def generation_save(*, prompt: Prompt, response: dict) -> Generation:
    """Store serving's response. When its quality check failed (``quality.passed`` false) the
    attempt is stored as failed, with the reason and without a post."""
    quality = dict(response.get("quality") or {})
    failed = quality.get("passed") is False
    return Generation.objects.create(
        prompt=prompt,
        user_id=prompt.user_id,
        post="" if failed else str(response.get("post") or ""),
        status=Generation.FAILED if failed else Generation.WRITTEN,
        quality=quality,
        error=quality_failure(quality) if failed else "",
        sources=list(response.get("sources") or []),
        links=list(response.get("links") or []),
        model=dict(response.get("model") or {}),
        timings=dict(response.get("timings") or {}),
        trace=dict(response.get("trace") or {}),
    )


def generate(*, prompt: Prompt, client: ServingClient | None = None) -> Generation:
    """Ask the serving app for a post (not streamed) and save it (as a failed attempt when it did
    not pass the quality check). Raises ServingError subclasses."""
    client = client or ServingClient.from_settings()
    return generation_save(prompt=prompt, response=client.create_post(serving_payload(prompt)))


def generate_stream(*, prompt: Prompt, client: ServingClient | None = None) -> Iterator[StreamEvent | Generation]:
    """Stream tokens from the serving app; the last item is the saved :class:`Generation`."""
    client = client or ServingClient.from_settings()
    for event in client.stream_post(serving_payload(prompt)):
        if event.kind == "final":
            yield generation_save(prompt=prompt, response=event.response)
            return
        yield event


@transaction.atomic
def generation_update(
    *, generation: Generation, edited_post: str | None = None, rating: int | None = None
) -> Generation:
    """Store the user's edit (kept beside the original for future preference data) and rating."""
    if generation.failed:
        raise ValidationError({"edited_post": "This attempt did not produce a post: regenerate to get one."})
    fields = []
    if edited_post is not None:
        edited_post = edited_post.strip().replace("\r\n", "\n")
        edited_post = "" if edited_post == generation.post.strip() else edited_post
        if edited_post != generation.edited_post:
            generation.edited_post, generation.edited_at = edited_post, (timezone.now() if edited_post else None)
            fields += ["edited_post", "edited_at"]
    if rating is not None:
        if not 1 <= int(rating) <= 5:
            raise ValidationError({"rating": "Rate from 1 to 5."})
        generation.rating = int(rating)
        fields.append("rating")
    if fields:
        generation.save(update_fields=fields)
    return generation


def prompt_delete(*, prompt: Prompt) -> None:
    prompt.delete()
