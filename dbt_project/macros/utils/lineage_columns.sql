{#-
    The lineage columns every staged row carries, so each model names the same five in the same
    order: load_id (audit.load_batches), batch_id, source_file, source_line, loaded_at.
    from_landing=true renames them from the landing tables' underscore-prefixed columns.
-#}
{% macro lineage_columns(from_landing=false) -%}
    {%- for column in ['load_id', 'batch_id', 'source_file', 'source_line', 'loaded_at'] -%}
        {%- if not loop.first %}
        {% endif -%}
        {%- if from_landing %}_{{ column }} as {% endif %}{{ column }}{{ ',' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
