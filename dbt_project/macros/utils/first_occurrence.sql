{#-
    Columns that rank the rows sharing a key in load order: batches by the ingest ledger's
    load_id (audit.load_batches), then lines within a file. occurrence_number = 1 is the
    occurrence that is kept; first_source_file / first_source_line say where that one came from.
-#}
{% macro first_occurrence_columns(key) -%}
    {%- set load_order -%}
        partition by {{ key }}
        order by load_id, source_line
    {%- endset -%}
        row_number() over ({{ load_order }}) as occurrence_number,
        first_value(source_file) over (
            {{ load_order }}
            rows between unbounded preceding and unbounded following
        ) as first_source_file,
        first_value(source_line) over (
            {{ load_order }}
            rows between unbounded preceding and unbounded following
        ) as first_source_line
{%- endmacro %}


{#- `detail` text of a duplicate_id refusal: where the kept occurrence is. -#}
{% macro duplicate_detail(key_name) -%}
    {{ dbt.concat(["'repeats the " ~ key_name ~ " first seen in '", "first_source_file", "' line '",
                   "cast(first_source_line as " ~ dbt.type_string() ~ ")",
                   "' (the first occurrence is kept)'"]) }}
{%- endmacro %}
