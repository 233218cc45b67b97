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

/// A fieldless enum whose variants each have one wire string, declared once as
/// `Variant = "string",`; from that one list come the enum, `ALL` (every variant, in
/// declaration order), `as_str`, `from_wire` (the exact string back) and `Display`.
macro_rules! str_enum {
    (
        $(#[$m:meta])*
        pub enum $name:ident {
            $($(#[$vm:meta])* $variant:ident = $s:literal,)*
        }
    ) => {
        $(#[$m])*
        pub enum $name {
            $($(#[$vm])* $variant,)*
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$($s),*].len()] = [$($name::$variant),*];

            /// The wire string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $s,)*
                }
            }

            /// The variant whose wire string is exactly `s`.
            pub fn from_wire(s: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use str_enum;
