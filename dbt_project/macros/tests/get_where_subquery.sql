{#-
    dbt's `where` test config, plus one token: __tested_relation__ in the condition stands for
    the tested relation itself (the config cannot call ref()). int_viewing_sessions_validated's
    tests use it to check the rows the model's latest build wrote:
        validation_load_id = (select max(validation_load_id) from __tested_relation__)
    A full build or a re-validation writes every row, so those builds test the whole table; an
    appending build tests the new loads' rows - the older ones passed when they were written and
    an append never rewrites them (new loads bring new batches, so new keys).
-#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where | replace('__tested_relation__', relation | string) }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
