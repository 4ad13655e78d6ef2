{#- What a document's chunks are derived from: when it changes, the document is chunked again. -#}
{% macro chunking_fingerprint(document) -%}
    md5(concat_ws('|', {{ document }}.text, {{ document }}.title, {{ document }}.source_url,
                  {{ document }}.published_at, {{ document }}.is_own_writing,
                  {{ var('chunk_max_tokens') }}, {{ var('chunk_overlap_tokens') }}))
{%- endmacro %}
