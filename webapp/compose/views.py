import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from webapp.compose import selectors, services
from webapp.compose.forms import ComposeForm, GenerationEditForm
from webapp.compose.models import Generation
from webapp.compose.serving_client import ServingError


@require_http_methods(["GET", "POST"])
def index(request):
    form = ComposeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            prompt = services.prompt_create(
                user=request.user,
                text=data["text"],
                links_text=data["links"],
                options={"length": data["length"], "tone": data["tone"], "hashtags": data["hashtags"]},
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            target = reverse("compose:prompt", args=[prompt.pk])
            if request.POST.get("js") == "1":  # the page streams the post in (twin.js)
                return redirect(f"{target}?generate=1")
            _generate_now(request, prompt)
            return redirect(target)
    history = selectors.prompt_list(user=request.user)[:30]
    return render(request, "compose/index.html", {"form": form, "history": history}, status=400 if form.errors else 200)


def _generate_now(request, prompt) -> None:
    try:
        services.generate(prompt=prompt)
    except ServingError as exc:
        messages.error(request, f"{exc} Your prompt is saved; use Regenerate to try again.")


def prompt_detail(request, prompt_id: int):
    prompt = selectors.prompt_get(user=request.user, prompt_id=prompt_id)
    generations = list(selectors.generation_list(prompt=prompt))
    latest = next((generation for generation in generations if not generation.failed), None)
    for generation in generations:
        generation.form = _edit_form(generation)
        generation.is_latest = generation is latest  # the newest post is shown in full, older ones folded
    return render(
        request,
        "compose/prompt.html",
        {
            "prompt": prompt,
            "generations": generations,
            "autostart": request.GET.get("generate") == "1" and not generations,
        },
    )


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@require_POST
def generate(request, prompt_id: int):
    """Write (another) post for a prompt: streamed as SSE when asked for, else saved and redirected."""
    prompt = selectors.prompt_get(user=request.user, prompt_id=prompt_id)
    if "text/event-stream" not in request.headers.get("Accept", ""):
        _generate_now(request, prompt)
        return redirect("compose:prompt", prompt_id=prompt.pk)

    def events():
        try:
            for item in services.generate_stream(prompt=prompt):
                if isinstance(item, Generation):  # saved: a post, or a failed attempt (quality check)
                    html = render_to_string(
                        "compose/_generation.html",
                        {"g": _with_form(item), "latest": True, "newest": True},
                        request=request,
                    )
                    yield _sse("done", {"generation_id": item.pk, "html": html, "failed": item.failed})
                elif item.kind == "reset":  # that draft failed serving's quality check; the next one starts
                    yield _sse("reset", {"problems": list(item.problems)})
                else:
                    yield _sse("token", {"text": item.text})
        except ServingError as exc:
            yield _sse("error", {"message": f"{exc} Your prompt is saved; press Regenerate to try again."})

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _with_form(generation: Generation) -> Generation:
    generation.form = _edit_form(generation)
    return generation


def _edit_form(generation: Generation) -> GenerationEditForm:
    return GenerationEditForm(initial={"edited_post": generation.final_post, "rating": generation.rating})


@require_POST
def generation_update(request, generation_id: int):
    generation = selectors.generation_get(user=request.user, generation_id=generation_id)
    form = GenerationEditForm(request.POST)
    if form.is_valid():
        try:
            services.generation_update(
                generation=generation, edited_post=form.cleaned_data["edited_post"], rating=form.cleaned_data["rating"]
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        else:
            messages.success(request, "Saved your edit and rating.")
    else:
        messages.error(request, "Could not save: " + "; ".join(e for errs in form.errors.values() for e in errs))
    return redirect(f"{reverse('compose:prompt', args=[generation.prompt_id])}#g{generation.pk}")


@require_POST
def prompt_delete(request, prompt_id: int):
    prompt = selectors.prompt_get(user=request.user, prompt_id=prompt_id)
    services.prompt_delete(prompt=prompt)
    messages.success(request, "Deleted the prompt and its posts.")
    return redirect("compose:index")
