"""Reads for compose, always for one owner (another user's id is a 404)."""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from webapp.compose.models import Generation, Prompt


def prompt_list(*, user) -> QuerySet[Prompt]:
    """The user's prompts, each with its posts (``generations``: written ones only, newest first)."""
    posts = Generation.objects.filter(status=Generation.WRITTEN).order_by("-created_at")
    return (
        Prompt.objects.filter(user=user)
        .order_by("-created_at")
        .prefetch_related(Prefetch("generations", queryset=posts))
    )


def prompt_get(*, user, prompt_id: int) -> Prompt:
    return get_object_or_404(Prompt, pk=prompt_id, user=user)


def generation_list(*, prompt: Prompt) -> QuerySet[Generation]:
    """Every attempt for the prompt, newest first: written posts and failed attempts."""
    return prompt.generations.order_by("-created_at")


def generation_get(*, user, generation_id: int) -> Generation:
    return get_object_or_404(Generation.objects.select_related("prompt"), pk=generation_id, user=user)
