//! Rendering: text frames for the terminal ([`text`]) and SVG pictures ([`svg`]), including an
//! animated SVG of a whole episode ([`EpisodeSvg`]).

pub mod svg;
pub mod text;

pub use svg::EpisodeSvg;
