from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from webapp.accounts.forms import SignupForm
from webapp.accounts.services import UserAlreadyExists, user_create


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("compose:index")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(email=form.cleaned_data["email"], password=form.cleaned_data["password1"])
        except UserAlreadyExists:
            form.add_error("email", "An account with this email already exists. Log in instead.")
        except ValidationError as exc:
            form.add_error("password1", exc)
        except ValueError as exc:
            form.add_error("email", str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome! Start by adding the places you write.")
            return redirect("sources:index")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


def home(request):
    return redirect("compose:index")
