{#- Fails on documents that have no chunk in `model` (the chunks model). -#}
{% test every_document_has_a_chunk(model) %}
select document.document_id
from {{ ref('documents') }} as document
where not exists (select 1 from {{ model }} as chunk where chunk.document_id = document.document_id)
{% endtest %}
