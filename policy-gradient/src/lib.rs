//! REINFORCE and its variance-reduced relatives.
#![warn(missing_docs)]
