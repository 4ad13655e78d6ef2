{#- Fails on rows whose column exceeds `value`. -#}
{% test at_most(model, column_name, value) %}
select * from {{ model }}
where {{ column_name }} > {{ value }}
{% endtest %}
