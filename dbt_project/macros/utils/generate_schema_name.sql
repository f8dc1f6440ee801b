{#-
    Custom schemas are used as they are (staging, core, marts, audit) instead of dbt's default
    "<target schema>_<custom schema>", so analysts and Tableau find the same names in every
    environment. Nodes without a custom schema fall back to the target schema.
    DBT_SCHEMA_PREFIX (empty unless set) is prepended to every name, sources' raw and audit
    included: the tests build on a shared Spark server in databases of their own.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ env_var('DBT_SCHEMA_PREFIX', '') }}{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
