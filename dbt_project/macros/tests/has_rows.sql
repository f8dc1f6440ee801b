{#- The model is not empty: an empty mart usually means an upstream join silently lost everything. -#}
{% test has_rows(model) %}

select 1 as no_rows
from (select count(*) as row_count from {{ model }}) as counted
where row_count = 0

{% endtest %}
