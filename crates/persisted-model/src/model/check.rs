//! The registry checked as a whole when the API is built: every relation's target, keys and
//! through model, every ACL entry's model and method, every REST path. All problems are
//! reported at once, so a typo is a start-up error rather than a 500 on the first request.

use persisted_model_acl::{AclEntry, PropertyMatch};

use super::{ModelDefinition, ModelRegistry, RelationKind};

/// Every problem of the registry and the application-level ACL entries, one line each.
pub(crate) fn problems(registry: &ModelRegistry, app_acls: &[AclEntry]) -> Vec<String> {
    let mut out = Vec::new();
    for model in registry.iter() {
        let def = model.definition();
        if let Some(other) = model.foreign_hooks() {
            out.push(format!("{}: its typed hooks are written for {other}", def.name));
        }
        relations(registry, def, &mut out);
        for entry in &def.acls {
            acl(registry, entry, &format!("{}'s ACL", def.name), &mut out);
        }
    }
    for entry in app_acls {
        acl(registry, entry, "An application ACL", &mut out);
    }
    let public: Vec<&ModelDefinition> = registry.iter().map(|m| m.definition()).filter(|d| d.settings.public).collect();
    for (i, a) in public.iter().enumerate() {
        if let Some(b) = public[i + 1..].iter().find(|b| b.path.eq_ignore_ascii_case(&a.path)) {
            out.push(format!("{} and {} are both served at /{}", a.name, b.name, a.path));
        }
    }
    out
}

fn has_property(def: &ModelDefinition, name: &str) -> bool {
    def.property(name).is_some()
}

fn relations(registry: &ModelRegistry, def: &ModelDefinition, out: &mut Vec<String>) {
    for rel in &def.relations {
        let at = format!("{}.{} ({:?})", def.name, rel.name, rel.kind);
        if has_property(def, &rel.name) {
            out.push(format!("{at}: the relation has the name of a property of {}", def.name));
        }
        let Some(target) = registry.get(&rel.model) else {
            out.push(format!("{at}: the target model \"{}\" is not registered", rel.model));
            continue;
        };
        let target = target.definition();
        match rel.kind {
            RelationKind::BelongsTo if !has_property(def, &rel.foreign_key) => {
                out.push(format!("{at}: {} has no foreign key property \"{}\"", def.name, rel.foreign_key));
            }
            RelationKind::HasMany | RelationKind::HasOne if !has_property(target, &rel.foreign_key) => {
                out.push(format!("{at}: {} has no foreign key property \"{}\"", target.name, rel.foreign_key));
            }
            RelationKind::HasManyThrough => {
                let Some(through_name) = rel.through.as_deref() else {
                    out.push(format!("{at}: no through model"));
                    continue;
                };
                let Some(through) = registry.get(through_name) else {
                    out.push(format!("{at}: the through model \"{through_name}\" is not registered"));
                    continue;
                };
                let through = through.definition();
                if !has_property(through, &rel.foreign_key) {
                    out.push(format!("{at}: {} has no foreign key property \"{}\"", through.name, rel.foreign_key));
                }
                match rel.key_through.as_deref() {
                    Some(key) if has_property(through, key) => {}
                    Some(key) => out.push(format!("{at}: {} has no key property \"{key}\"", through.name)),
                    None => out.push(format!("{at}: no key_through")),
                }
            }
            _ => {}
        }
    }
}

fn acl(registry: &ModelRegistry, entry: &AclEntry, whose: &str, out: &mut Vec<String>) {
    if entry.model == "*" {
        return;
    }
    let Some(model) = registry.get(&entry.model) else {
        out.push(format!("{whose} names the model \"{}\", which is not registered", entry.model));
        return;
    };
    let PropertyMatch::Names(names) = &entry.property else { return };
    let methods = model.acl_method_names();
    for name in names {
        if !methods.iter().any(|m| m == name) {
            out.push(format!(
                "{whose} names the method \"{name}\" of {}, which has no such remote method",
                entry.model
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelHandle, Relation};
    use crate::testing::{category_definition, product_definition};

    fn registry(models: Vec<ModelDefinition>) -> ModelRegistry {
        let mut r = ModelRegistry::default();
        for m in models {
            r.insert(ModelHandle::from_definition(m));
        }
        r
    }

    #[test]
    fn a_consistent_registry_has_no_problems() {
        assert!(problems(&registry(vec![product_definition(), category_definition()]), &[]).is_empty());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut product = product_definition();
        product.relations.push(Relation::new("maker", RelationKind::BelongsTo, "Maker", "makerId"));
        product.relations.push(Relation::new("parts", RelationKind::HasMany, "Category", "productId"));
        product.relations.push(
            Relation::new("tags", RelationKind::HasManyThrough, "Category", "productId").through("Tagging", "tagId"),
        );
        let acls = [
            AclEntry::role("Product", "fnd", None, "$everyone"),
            AclEntry::role("Prodcut", "*", None, "$everyone"),
            AclEntry::role("Product", "upsert", None, "$everyone"),
            AclEntry::role("Product", "__get__category", None, "$everyone"),
        ];
        let found = problems(&registry(vec![product]), &acls);
        assert_eq!(
            found,
            vec![
                "Product.category (BelongsTo): the target model \"Category\" is not registered",
                "Product.maker (BelongsTo): the target model \"Maker\" is not registered",
                "Product.parts (HasMany): the target model \"Category\" is not registered",
                "Product.tags (HasManyThrough): the target model \"Category\" is not registered",
                "An application ACL names the method \"fnd\" of Product, which has no such remote method",
                "An application ACL names the model \"Prodcut\", which is not registered",
            ]
        );
        let mut category = category_definition();
        category.relations.push(Relation::new("items", RelationKind::HasMany, "Product", "nosuchId"));
        let found = problems(&registry(vec![product_definition(), category]), &[]);
        assert_eq!(found, vec!["Category.items (HasMany): Product has no foreign key property \"nosuchId\""]);
    }
}
