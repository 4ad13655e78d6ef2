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
    heading and quote markers, bold/italic markers, code fences and horizontal rules. -#}
{% macro strip_markdown(expression) -%}
    regexp_replace(
    regexp_replace(
    regexp_replace(
    regexp_replace(
    regexp_replace(
    regexp_replace({{ expression }},
        '!\[[^\]]*\]\([^)]*\)', '', 'g'),
        '\[([^\]]+)\]\((https?://|/|#)[^)\s]*\)', '\1', 'g'),
        '^[ \t]*(#{1,6}|>)[ \t]+', '', 'gn'),
        '(\*\*|__)', '', 'g'),
        '^[ \t]*```[^\n]*$', '', 'gn'),
        '^[ \t]*([-*_][ \t]*){3,}$', '', 'gn')
{%- endmacro %}

{#- Prose: runs of spaces/tabs become one space, lines are trimmed, at most one blank line. -#}
{% macro normalise_prose_whitespace(expression) -%}
    btrim(regexp_replace(regexp_replace(regexp_replace(
        {{ expression }},
        '[ \t\f\v]+', ' ', 'g'),
        ' ?\n ?', E'\n', 'g'),
        '\n{3,}', E'\n\n', 'g'), E' \n')
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
