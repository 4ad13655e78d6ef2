{#- Fails on training samples built from a document that is not the user's own writing. -#}
{% test no_sample_from_supplied_knowledge(model) %}
select sample.*
from {{ model }} as sample
join {{ ref('documents') }} as document on document.document_id = sample.document_id
where not document.is_own_writing or document.kind not in ('post', 'article')
{% endtest %}
