//! `setters!`: the builder methods of core's option types, written once.

/// Builder setters that store their (converted) argument in a field:
/// `name(arg: Type) => field = value;` (a `field` may be a path such as `config.timeout`).
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $($field:ident).+ = $value:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.$($field).+ = $value;
                self
            }
        )*
    };
}

pub(crate) use setters;
