{#- Fails on rows whose column is null, empty or only whitespace. -#}
{% test not_blank(model, column_name) %}
select * from {{ model }}
where {{ column_name }} is null or btrim({{ column_name }}, E' \t\r\n') = ''
{% endtest %}
