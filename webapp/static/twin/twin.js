/* LLM Twin: the few live parts of the pages (no framework). */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /* Copy buttons: <button data-copy="#element-id"> copies that element's text. */
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    event.preventDefault();
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.value !== undefined && source.tagName === "TEXTAREA" ? source.value : source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else { fallbackCopy(text); done(); }
  });

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text; area.setAttribute("readonly", ""); area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(area);
  }

  /* Polling: an element with data-poll-url and data-active="1" is replaced by a fresh copy every few seconds. */
  function poll(element) {
    if (!element || element.getAttribute("data-active") !== "1") return;
    var url = element.getAttribute("data-poll-url");
    var delay = parseInt(element.getAttribute("data-poll-ms") || "3000", 10);
    setTimeout(function () {
      fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html.trim();
          var fresh = holder.firstElementChild;
          if (!fresh) return;
          element.replaceWith(fresh);
          poll(fresh);
        })
        .catch(function () { poll(element); });
    }, delay);
  }
  document.querySelectorAll("[data-poll-url]").forEach(poll);

  /* Compose form: tell the server this page can stream. */
  document.querySelectorAll("form[data-js-flag]").forEach(function (form) {
    var flag = document.createElement("input");
    flag.type = "hidden"; flag.name = "js"; flag.value = "1";
    form.appendChild(flag);
  });

  /* Generation: POST, read Server-Sent Events from the response body, render tokens as they come. */
  var generateForm = document.getElementById("generate-form");
  if (generateForm) {
    generateForm.addEventListener("submit", function (event) {
      event.preventDefault();
      streamGeneration(generateForm);
    });
    if (generateForm.getAttribute("data-autostart") === "1") {
      history.replaceState(null, "", location.pathname);
      streamGeneration(generateForm);
    }
  }

  /* An older post (already on the page) folds away once a new one arrives. */
  function collapse(card) {
    var failed = card.classList.contains("generation-failed");
    var post = card.querySelector(failed ? ".problems" : ".post");
    var details = document.createElement("details");
    var summary = document.createElement("summary");
    summary.textContent = failed ? "Failed attempt · no post passed the quality check" : "Earlier post";
    details.appendChild(summary);
    if (post) details.appendChild(post.cloneNode(true));
    card.innerHTML = "";
    card.appendChild(details);
  }

  function streamGeneration(form) {
    var box = document.getElementById("stream");
    var post = document.getElementById("stream-post");
    var status = document.getElementById("stream-status");
    var error = document.getElementById("stream-error");
    var button = form.querySelector("button[type=submit]");
    box.hidden = false; error.hidden = true; post.textContent = ""; post.classList.add("streaming");
    status.textContent = "Your twin is writing...";
    button.disabled = true;

    function finish() { post.classList.remove("streaming"); button.disabled = false; }
    function showError(message) {
      error.textContent = message; error.hidden = false; status.textContent = "";
      if (!post.textContent) box.hidden = true;
      box.parentNode.insertBefore(error, box);
    }
    function handle(name, data) {
      if (name === "token") {
        post.textContent += data.text;
      } else if (name === "reset") {  /* that draft failed the quality check: the twin writes another */
        post.textContent = "";
        status.textContent = "A draft failed the quality check (" + (data.problems || []).join("; ") +
          "); your twin is writing another...";
      } else if (name === "done") {
        var list = document.getElementById("generations");
        var holder = document.createElement("div");
        holder.innerHTML = data.html.trim();
        var empty = document.getElementById("no-generations");
        if (empty) empty.remove();
        var previous = list.querySelector(".generation");
        var failed = list.querySelector(".generation-failed .quality-failed");
        if (failed) collapse(failed.closest(".generation-failed"));  /* only the newest failure stays open */
        list.insertBefore(holder.firstElementChild, list.firstChild);
        if (previous && !data.failed) collapse(previous);  /* a failed attempt leaves the last post open */
        button.textContent = "Regenerate";
        box.hidden = true; status.textContent = "";
      } else if (name === "error") {
        showError(data.message);
      }
    }

    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "Accept": "text/event-stream", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok || !response.body) throw new Error("The server answered HTTP " + response.status + ".");
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) { finish(); return; }
          buffer += decoder.decode(chunk.value, { stream: true });
          var parts = buffer.split("\n\n");
          buffer = parts.pop();
          parts.forEach(function (part) {
            var name = "message", data = [];
            part.split("\n").forEach(function (line) {
              if (line.indexOf("event:") === 0) name = line.slice(6).trim();
              else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
            });
            if (data.length) handle(name, JSON.parse(data.join("\n")));
          });
          return pump();
        });
      }
      return pump();
    }).catch(function (problem) {
      finish();
      showError("Could not reach the web app: " + problem.message);
    });
  }
})();
