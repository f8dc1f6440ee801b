{#-
    Custom schemas are used as they are (staging, core, marts, audit) instead of dbt's default
    "<target schema>_<custom schema>", so analysts and Tableau find the same names in every
    environment. Nodes without a custom schema fall back to the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
