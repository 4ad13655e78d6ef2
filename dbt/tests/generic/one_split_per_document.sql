{#- Fails on documents whose samples fall into more than one split. -#}
{% test one_split_per_document(model) %}
select document_id, count(distinct split) as splits
from {{ model }}
group by document_id
having count(distinct split) > 1
{% endtest %}
