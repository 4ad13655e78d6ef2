{#- The first sentence of a text's first line (the whole line when it has no sentence end), cut
    to at most 160 characters at a word boundary. -#}
{% macro opening_sentence(expression) -%}
    btrim(substring(
        coalesce(
            substring(split_part({{ expression }}, E'\n', 1) from '^(.{12,}?[.!?])(\s|$)'),
            split_part({{ expression }}, E'\n', 1)
        ) || ' '
        from '^(.{1,160})\s'
    ))
{%- endmacro %}
