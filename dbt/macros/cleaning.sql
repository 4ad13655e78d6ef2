{#- Text clean-up expressions used by int_documents__cleaned. -#}

{#- Zero-width characters, soft hyphens and byte-order marks carry nothing for search or style. -#}
{% macro strip_invisible(expression) -%}
    regexp_replace({{ expression }}, '[\u200B\u200C\u200D\u2060\uFEFF\u00AD]', '', 'g')
{%- endmacro %}

{% macro unify_line_endings(expression) -%}
    regexp_replace({{ expression }}, '\r\n?', E'\n', 'g')
{%- endmacro %}

{#- Leftover HTML: line-breaking tags become newlines, other tags go, common entities are decoded
    (&amp; last, so "&amp;lt;" stays the literal text "&lt;"). -#}
{% macro strip_html(expression) -%}
    replace(replace(replace(replace(replace(replace(replace(
        regexp_replace(
            regexp_replace(
                regexp_replace({{ expression }}, '<!--.*?-->', '', 'g'),
                '<(br|/p|/div|/li|/h[1-6])\s*/?>', E'\n', 'gi'),
            '</?[a-zA-Z][a-zA-Z0-9-]*(\s[^<>]*)?/?>', '', 'g'),
        '&nbsp;', ' '), '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#39;', ''''), '&#x27;', ''''), '&amp;', '&')
{%- endmacro %}

{#- Markdown syntax that is noise in plain text: images, link targets (the link text stays),
    heading and quote markers at the start of a line (an indented "# note" is a code comment), **bold** markers around text (not a lone "**", which is code: 2 ** n),
    code fences and horizontal rules. -#}
{% macro strip_markdown(expression) -%}
    regexp_replace(
    regexp_replace(
    regexp_replace(
    regexp_replace(
    regexp_replace(
    regexp_replace({{ expression }},
        '!\[[^\]]*\]\([^)]*\)', '', 'g'),
        '\[([^\]]+)\]\((https?://|/|#)[^)\s]*\)', '\1', 'g'),
        '^(#{1,6}|>)[ \t]+', '', 'gn'),
        '\*\*([^*\s]([^*\n]*[^*\s])?)\*\*', '\1', 'g'),
        '^[ \t]*```[^\n]*$', '', 'gn'),
        '^[ \t]*([-*_][ \t]*){3,}$', '', 'gn')
{%- endmacro %}

{#- Text that was HTML: whitespace means nothing there (as in a browser), so runs of spaces/tabs become
    one space, lines are trimmed, at most one blank line. -#}
{% macro normalise_html_whitespace(expression) -%}
    btrim(regexp_replace(regexp_replace(regexp_replace(
        {{ expression }},
        '[ \t\f\v]+', ' ', 'g'),
        ' ?\n ?', E'\n', 'g'),
        '\n{3,}', E'\n\n', 'g'), E' \n')
{%- endmacro %}

{#- Whether stored content is (leftover) HTML rather than plain text or markdown. -#}
{% macro looks_like_html(expression) -%}
    ({{ expression }} ~* '<(p|div|br|li|ul|ol|h[1-6]|blockquote|section|article|span)(\s[^<>]*)?/?>')
{%- endmacro %}

{#- Plain text and markdown: a line keeps its indentation (code pasted into a post, nested lists; a tab is 4 spaces), a
    run of spaces after the line's first character becomes one, trailing spaces go, at most one blank
    line. -#}
{% macro normalise_prose_whitespace(expression) -%}
    rtrim(ltrim(regexp_replace(regexp_replace(regexp_replace(
        replace(regexp_replace({{ expression }}, '[\f\v]', ' ', 'g'), E'\t', '    '),
        '([^ \n]) {2,}', '\1 ', 'g'),
        ' +(\n|$)', '\1', 'g'),
        '\n{3,}', E'\n\n', 'g'), E'\n'), E' \n')
{%- endmacro %}

{#- Code keeps its indentation: only trailing spaces go and blank-line runs shrink to one. -#}
{% macro normalise_code_whitespace(expression) -%}
    rtrim(ltrim(regexp_replace(regexp_replace(
        replace({{ expression }}, E'\t', '    '),
        '[ \t]+\n', E'\n', 'g'),
        '\n{3,}', E'\n\n', 'g'), E'\n'), E' \n')
{%- endmacro %}

{#- Letters and digits only: what decides whether a document is near-empty. -#}
{% macro meaningful_length(expression) -%}
    char_length(regexp_replace({{ expression }}, '[[:space:][:punct:]]', '', 'g'))
{%- endmacro %}
